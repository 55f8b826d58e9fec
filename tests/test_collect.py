"""Finding bursts: folder rules, ordering, grouping, ignored files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from burstcli.collect import GroupOptions, InputFile, collect, order_frames
from burstcli.default_plugins.groupers import by_count, by_time_gap
from burstcli.collect import Grouper
from burstcli.model import ExifInfo

FOLDER = Grouper("folder", lambda files, options: [list(files)])
EXT = frozenset({".dng", ".jpg"})


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def names(collection):
    return {b.name: [f.path.name for f in b.files] for b in collection.bursts}


def test_folder_with_images_and_subfolders(tmp_path):
    for p in ("shots/a.jpg", "shots/notes.txt", "shots/b1/x.dng", "shots/b1/y.dng",
              "shots/b2/deep/z.dng", "shots/.hidden/q.jpg"):
        touch(tmp_path / p)
    found = collect([tmp_path / "shots"], extensions=EXT, grouper=FOLDER)
    assert names(found) == {"shots": ["a.jpg"], "b1": ["x.dng", "y.dng"]}
    assert [p.name for p in found.ignored] == ["notes.txt"]
    deep = collect([tmp_path / "shots"], extensions=EXT, grouper=FOLDER, recursive=True)
    assert names(deep)["deep"] == ["z.dng"] and "q.jpg" not in str(names(deep))


def test_output_folder_is_never_collected(tmp_path):
    touch(tmp_path / "shots/b1/x.dng")
    touch(tmp_path / "shots/out/b1_sharpest.jpg")
    found = collect([tmp_path / "shots"], extensions=EXT, grouper=FOLDER,
                    exclude=[tmp_path / "shots/out"])
    assert names(found) == {"b1": ["x.dng"]}


def test_same_folder_names_are_made_unique(tmp_path):
    touch(tmp_path / "day1/burst/a.jpg")
    touch(tmp_path / "day2/burst/a.jpg")
    found = collect([tmp_path / "day1", tmp_path / "day2"], extensions=EXT, grouper=FOLDER)
    assert sorted(names(found)) == ["day1_burst", "day2_burst"]


def at(seconds: float) -> ExifInfo:
    return ExifInfo(capture_time=dt.datetime(2026, 1, 1) + dt.timedelta(seconds=seconds))


def test_order_by_capture_time_then_name():
    files = [InputFile(Path("c.jpg"), at(1)), InputFile(Path("b.jpg"), at(0.5)),
             InputFile(Path("a.jpg"), at(1)), InputFile(Path("0.jpg"))]
    assert [f.path.name for f in order_frames(files)] == ["b.jpg", "a.jpg", "c.jpg", "0.jpg"]


def test_group_by_time_gap_uses_subseconds():
    files = [InputFile(Path(f"{i}.jpg"), at(t)) for i, t in enumerate([0, 0.1, 0.2, 3.0, 3.05])]
    groups = by_time_gap(files, GroupOptions(gap=1.5))
    assert [[f.path.name for f in g] for g in groups] == [["0.jpg", "1.jpg", "2.jpg"],
                                                          ["3.jpg", "4.jpg"]]
    assert len(by_time_gap(files, GroupOptions(gap=0.08))) == 4


def test_group_by_count():
    files = [InputFile(Path(f"{i}.jpg")) for i in range(7)]
    assert [len(g) for g in by_count(files, GroupOptions(count=3))] == [3, 3, 1]
    with pytest.raises(ValueError):
        by_count(files, GroupOptions(count=0))


def test_split_folder_bursts_are_named_after_first_frame(tmp_path):
    for i in range(4):
        touch(tmp_path / "flat" / f"img_{i}.jpg")
    grouper = Grouper("count", by_count)
    found = collect([tmp_path / "flat"], extensions=EXT, grouper=grouper,
                    options=GroupOptions(count=2))
    assert sorted(names(found)) == ["flat-img_0", "flat-img_2"]
