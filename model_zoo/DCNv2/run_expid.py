"""Run one experiment of ./config/ the FuxiCTR model_zoo way:

    python run_expid.py --config ./config/ --expid <expid> --gpu -1

As FuxiCTR's own run_expid.py, it works in its own folder whatever the caller's: paths in the
configs are relative to this folder, and the result line goes to ./config.csv here.
"""
import os
import sys

from fuxictr_ssr.cli import run_expid_main

if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.realpath(__file__)))
    sys.exit(run_expid_main())
