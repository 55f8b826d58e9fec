"""Which files are RAW: the extensions LibRaw reads, for the decoder (which files go to LibRaw)
and for the DNG writer (which bursts it can hold, known before anything is decoded)."""

from __future__ import annotations

#: Extensions LibRaw reads (lower case). ".raw" is included: several makers use it.
RAW_EXTENSIONS = frozenset(
    ".dng .cr2 .cr3 .crw .nef .nrw .arw .srf .sr2 .raf .orf .rw2 .rwl .pef .ptx .srw .kdc .dcr "
    ".k25 .dc2 .mos .mef .mrw .erf .3fr .fff .iiq .x3f .gpr .cap .bay .raw .rwz .mdc .ari .cs1 "
    ".nksc .sti .qtk .r3d .arq .dcs .drf .eip .j6i .kc2 .mfw .obm .pxn .rdc".split())
