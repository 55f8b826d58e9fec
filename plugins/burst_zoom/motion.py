"""What moved, for the zoom stages: each frame's agreement with the reference, per pixel."""

from __future__ import annotations

import numpy as np

from burstcli import Frame
from burstlib.agreement import agreement_in_frames

#: What moved is told from aliasing by comparing frames blurred by this sigma (input pixels).
#: Blurred noise is correlated over a few pixels, so a window holds fewer independent
#: samples than in ``merge.robust`` and its mean squared difference strays further: the
#: threshold (times the difference noise explains) is higher. What moves differs by far
#: more: an object's contrast against the background, hundreds of times the noise's.
MOTION_SMOOTH = 1.5
MOTION_THRESHOLD = 4.0
MOTION_MISALIGNMENT = 0.25  # px: registration error and leftover aliasing on edges
#: Frames demosaicked or JPEG-compressed one by one differ by their own artefacts, which the
#: blur does not average away: about a code value of 8-bit is never taken for motion.
MOTION_FLOOR = (1.0 / 255.0) ** 2


def motion_weights(frames: list[Frame], threshold: float = MOTION_THRESHOLD) -> list[np.ndarray]:
    """Each frame's agreement with the reference (frame 0) per pixel of its own grid: what
    moved is taken from the reference alone (see :func:`burstlib.agreement.agreement_in_frames`),
    the frames compared blurred so that aliasing is not taken for motion."""
    return agreement_in_frames(frames[0], frames, threshold, smooth=MOTION_SMOOTH,
                               misalignment=MOTION_MISALIGNMENT, floor=MOTION_FLOOR)
