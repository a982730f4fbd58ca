"""The CSV writers: the files read back, their determinism, progress, and what a failure leaves."""

import csv
import io
import itertools
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashboard.jobs import csvexport
from dashboard.jobs.csvexport import MAX_ROWS, SAMPLE_HEADER, write_records, write_sample

Reports = list[tuple[float, str]]

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
VALUE = re.compile(r"\d{1,3}\.\d\d")
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def sample(path: Path, rows: int, seed: str = "seed") -> tuple[csvexport.CsvSummary, Reports]:
    reports: Reports = []
    summary = write_sample(path, rows, seed, lambda percent, text: reports.append((percent, text)))
    return summary, reports


def read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.reader(file))


def leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


# --- write_sample ----------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [1, 7, 10_000, 10_001, 120_001])
def test_sample_has_a_header_and_one_line_per_row(tmp_path: Path, rows: int) -> None:
    target = tmp_path / "sample.csv"
    summary, _ = sample(target, rows)
    data = target.read_bytes()
    assert summary == csvexport.CsvSummary(rows=rows, bytes=len(data))
    assert data.count(b"\n") == rows + 1  # what `wc -l` counts
    assert data.endswith(b"\n")
    assert b"\r" not in data
    assert data.split(b"\n", 1)[0] == b"id,timestamp,name,category,value"
    assert leftovers(tmp_path) == ["sample.csv"]


def test_sample_rows_are_plausible_and_consistent(tmp_path: Path) -> None:
    rows = 120_001  # crosses several chunks and several days
    target = tmp_path / "sample.csv"
    sample(target, rows)
    header, *body = read_rows(target)
    assert tuple(header) == SAMPLE_HEADER
    assert [int(row[0]) for row in body] == list(range(1, rows + 1))
    assert all(len(row) == len(SAMPLE_HEADER) for row in body)
    assert {row[2] for row in body} == set(csvexport._NAMES)
    assert {row[3] for row in body} == set(csvexport._CATEGORIES)
    assert all(VALUE.fullmatch(row[4]) for row in body)
    assert {round(float(row[4]), 2) == float(row[4]) for row in body} == {True}
    assert_timestamps_step_forward([row[1] for row in body])


def assert_timestamps_step_forward(timestamps: list[str]) -> None:
    assert all(TIMESTAMP.fullmatch(text) for text in timestamps)
    moments = [datetime.fromisoformat(text.replace("Z", "+00:00")) for text in timestamps]
    assert EPOCH < moments[0] <= EPOCH + timedelta(seconds=9)
    gaps = {(later - earlier).total_seconds() for earlier, later in itertools.pairwise(moments)}
    assert gaps == {float(seconds) for seconds in range(1, 10)}  # increasing, across days too


def test_the_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    sample(tmp_path / "first.csv", 25_000, "again")
    sample(tmp_path / "second.csv", 25_000, "again")
    sample(tmp_path / "other.csv", 25_000, "different")
    first = (tmp_path / "first.csv").read_bytes()
    assert (tmp_path / "second.csv").read_bytes() == first
    other = (tmp_path / "other.csv").read_bytes()
    assert other != first
    assert other.splitlines()[1:] != first.splitlines()[1:]


def test_a_shorter_file_is_a_prefix_of_a_longer_one(tmp_path: Path) -> None:
    sample(tmp_path / "short.csv", 15_000)
    sample(tmp_path / "long.csv", 30_000)
    assert (tmp_path / "long.csv").read_bytes().startswith((tmp_path / "short.csv").read_bytes())


def test_the_chunk_size_does_not_change_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample(tmp_path / "default.csv", 1_234)
    monkeypatch.setattr(csvexport, "CHUNK_ROWS", 7)
    _, reports = sample(tmp_path / "small.csv", 1_234)
    assert len(reports) == -(-1_234 // 7) + 1  # one per chunk, then the final one
    assert (tmp_path / "small.csv").read_bytes() == (tmp_path / "default.csv").read_bytes()


@pytest.mark.parametrize("rows", [0, -1, MAX_ROWS + 1])
def test_rows_out_of_range_are_refused(tmp_path: Path, rows: int) -> None:
    with pytest.raises(ValueError, match="rows must be between 1 and 10,000,000"):
        sample(tmp_path / "sample.csv", rows)
    assert leftovers(tmp_path) == []


def test_sample_progress_counts_rows_up_to_exactly_100(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvexport, "CHUNK_ROWS", 100)
    _, reports = sample(tmp_path / "sample.csv", 350)
    percents = [percent for percent, _ in reports]
    assert percents == sorted(percents)
    assert percents[:3] == [pytest.approx(100 / 3.5), pytest.approx(200 / 3.5), 300 / 3.5]
    assert percents.count(100.0) == 1
    assert reports[-1] == (100.0, "350 of 350 rows")
    assert reports[0][1] == "100 of 350 rows"


def test_large_counts_are_shown_with_separators(tmp_path: Path) -> None:
    _, reports = sample(tmp_path / "sample.csv", 20_000)
    assert reports[0][1] == "10,000 of 20,000 rows"
    assert reports[-1] == (100.0, "20,000 of 20,000 rows")


def test_missing_parent_directories_are_made(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "sample.csv"
    sample(target, 3)
    assert len(target.read_text(encoding="utf-8").splitlines()) == 4


def test_a_file_already_there_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "sample.csv"
    target.write_text("stale\n" * 100, encoding="utf-8")
    summary, _ = sample(target, 2)
    assert "stale" not in target.read_text(encoding="utf-8")
    assert summary.bytes == target.stat().st_size
    assert leftovers(tmp_path) == ["sample.csv"]


def test_an_interrupted_sample_leaves_no_file(tmp_path: Path) -> None:
    def interrupt(percent: float, text: str) -> None:
        raise KeyboardInterrupt  # like a worker's shutdown: not an Exception

    with pytest.raises(KeyboardInterrupt):
        write_sample(tmp_path / "sample.csv", 30_000, "seed", interrupt)
    assert leftovers(tmp_path) == []


# --- write_records ---------------------------------------------------------------------------


def records_then_failure(good: int) -> Iterator[Sequence[object]]:
    for number in range(good):
        yield (number, "fine")
    raise RuntimeError("the database went away")


def test_a_failing_record_source_leaves_neither_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvexport, "CHUNK_ROWS", 10)
    reports: Reports = []
    with pytest.raises(RuntimeError, match="went away"):
        write_records(
            tmp_path / "export.csv",
            ["n", "text"],
            records_then_failure(35),
            100,
            lambda percent, text: reports.append((percent, text)),
        )
    assert len(reports) == 3  # three chunks were written before the failure
    assert leftovers(tmp_path) == []


def test_a_failure_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    target.write_text("previous\n", encoding="utf-8")
    with pytest.raises(RuntimeError):
        write_records(target, ["n", "text"], records_then_failure(5), 5, lambda p, t: None)
    assert target.read_text(encoding="utf-8") == "previous\n"
    assert leftovers(tmp_path) == ["export.csv"]


def test_records_are_quoted_as_csv_needs(tmp_path: Path) -> None:
    awkward = 'one, "two"\nthree'
    target = tmp_path / "export.csv"
    records = [(1, awkward, None, 2.5), (2, "plain", "Zoë", None)]
    summary = write_records(
        target, ["id", "text", "maybe", "x"], iter(records), len(records), lambda p, t: None
    )
    assert summary.rows == 2
    assert summary.bytes == len(target.read_bytes())
    assert read_rows(target) == [
        ["id", "text", "maybe", "x"],
        ["1", awkward, "", "2.5"],
        ["2", "plain", "Zoë", ""],
    ]
    assert target.read_text(encoding="utf-8") == (
        'id,text,maybe,x\n1,"one, ""two""\nthree",,2.5\n2,plain,Zoë,\n'
    )


def test_records_progress_against_the_total(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvexport, "CHUNK_ROWS", 4)
    reports: Reports = []
    records = ([number] for number in range(10))
    summary = write_records(
        tmp_path / "e.csv", ["n"], records, 10, lambda p, t: reports.append((p, t))
    )
    assert summary.rows == 10
    assert reports == [
        (40.0, "4 of 10 rows"),
        (80.0, "8 of 10 rows"),
        (99.9, "10 of 10 rows"),  # 100 waits until the file is under its real name
        (100.0, "10 of 10 rows"),
    ]


def test_more_records_than_expected_never_pass_100(tmp_path: Path) -> None:
    reports: Reports = []
    records = [[number] for number in range(5)]
    write_records(tmp_path / "e.csv", ["n"], records, 2, lambda p, t: reports.append((p, t)))
    assert [percent for percent, _ in reports] == [99.9, 100.0]
    assert reports[-1][1] == "5 of 2 rows"


@pytest.mark.parametrize("count", [0, 3])
def test_an_unknown_total_reports_100_at_the_end(tmp_path: Path, count: int) -> None:
    reports: Reports = []
    target = tmp_path / "export.csv"
    records = [("x", number) for number in range(count)]
    summary = write_records(target, ["a", "b"], records, 0, lambda p, t: reports.append((p, t)))
    assert summary.rows == count
    assert len(read_rows(target)) == count + 1
    assert reports[-1] == (100.0, f"{count} rows")
    assert [percent for percent, _ in reports[:-1]] == [0.0] * (len(reports) - 1)
    assert leftovers(tmp_path) == ["export.csv"]


def test_an_empty_export_is_just_the_header(tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    summary = write_records(target, ["a", "b, c"], [], 0, lambda p, t: None)
    assert target.read_bytes() == b'a,"b, c"\n'
    assert summary == csvexport.CsvSummary(rows=0, bytes=9)


def test_a_written_sample_reads_back_like_any_csv(tmp_path: Path) -> None:
    """The sample writer skips the csv module; a csv reader must still agree with its output."""
    target = tmp_path / "sample.csv"
    sample(target, 500)
    text = target.read_text(encoding="utf-8")
    copy = io.StringIO()
    csv.writer(copy, lineterminator="\n").writerows(read_rows(target))
    assert copy.getvalue() == text
