"""benchmarks/refresh_leaderboards.py: what a committed board was made from, read back from it."""
import importlib.util
import os

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks",
                      "refresh_leaderboards.py")
spec = importlib.util.spec_from_file_location("refresh_leaderboards", SCRIPT)
refresh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(refresh)


def test_a_board_whose_rows_predate_the_command_column_keeps_its_command(tmp_path):
    command = f"fuxictr-ssr bench --config {tmp_path / 'cfg'} --seeds 1,2 --max-epochs 3 --gpu -1"
    (tmp_path / "leaderboard.md").write_text(f"# toy leaderboard\n\nSeeds: 1, 2.  \nCommand: `{command}`\n")
    (tmp_path / "results.csv").write_text("expid,seed,config_hash\nDNN_toy,1,abc\n")
    assert refresh.board_source(str(tmp_path)) == (str(tmp_path / "cfg"), [1, 2], 3, "toy", command)
