import csv
from pathlib import Path

from training.datasets import deepsentipers


def _write(path: Path, rows: list[tuple[str, int]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)


def test_deepsentipers_five_way_values_map_to_three_classes_with_a_stable_split(tmp_path):
    folder = tmp_path / "fa_sentiment_deepsentipers"
    folder.mkdir()
    rows = [
        ("باتری این گوشی واقعا عالی است و تا دو روز شارژ نگه می‌دارد.", 2),
        ("صفحه نمایش این تبلت کیفیت پایینی دارد و زود خط می‌افتد.", -1),
        ("این دوربین دارای سنسور ۱۲ مگاپیکسلی است.", 0),
        ("پشتیبانی فروشگاه هیچ جوابی به ایمیل‌های من نداد.", -2),
    ]
    _write(folder / "original.csv", rows)
    first = list(deepsentipers(tmp_path))
    assert [ex.sentiment for ex in first] == ["positive", "negative", "neutral", "negative"]
    assert [ex.split for ex in first] == [ex.split for ex in deepsentipers(tmp_path)]
    assert {ex.split for ex in first} <= {"train", "dev"}
