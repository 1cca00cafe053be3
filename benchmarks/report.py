"""What every benchmark script ends with: its markdown report printed and, with ``--out``, written."""
import os


def emit(lines, out=None):
    """Print ``lines`` as one report; also write it to ``out`` (its folder made) when given."""
    report = "\n".join(lines) + "\n"
    print(report)
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as handle:
            handle.write(report)
