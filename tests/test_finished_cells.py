"""The finished cells of an evaluation: kept for the same evaluation, dropped for another."""

from __future__ import annotations

from skillfactory.evaluation.finished_cells import PARTIAL_DIR, FinishedCells


def test_a_saved_cell_reads_back_for_the_same_evaluation_only(tmp_path):
    cells = FinishedCells(tmp_path, {"settings": {"seed": 0}})
    assert cells.get("a") is None
    cells.put("a", {"accuracy": 0.5}, [{"response": "lone \ud800 surrogate"}])
    again = FinishedCells(tmp_path, {"settings": {"seed": 0}})
    assert again.count() == 1
    assert again.get("a") == ({"accuracy": 0.5}, [{"response": "lone \ud800 surrogate"}])
    other = FinishedCells(tmp_path, {"settings": {"seed": 1}})
    assert other.count() == 0 and other.get("a") is None


def test_a_cell_file_cut_short_is_answered_again_and_remove_clears_all(tmp_path):
    cells = FinishedCells(tmp_path, ["x"])
    cells.put("a", {}, [])
    (path,) = (tmp_path / PARTIAL_DIR).glob("cell-*.json")
    path.write_text(path.read_text()[:5])
    assert FinishedCells(tmp_path, ["x"]).get("a") is None
    cells.remove()
    assert not (tmp_path / PARTIAL_DIR).exists()
