"""Image-to-image registration: a homography (or a simpler model) taking a moving luminance
proxy onto a reference one, with the checks that refuse implausible fits.

:mod:`.register` (the entry point, :func:`.register.register`), :mod:`.initial` (phase
correlation and tile votes for a start), :mod:`.lk` (Lucas-Kanade / ECC-style refinement),
:mod:`.verify` (inliers, outlier blobs, plausibility)."""
