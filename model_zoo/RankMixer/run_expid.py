"""Run one experiment of ./config/ the FuxiCTR model_zoo way:

    python run_expid.py --config ./config/ --expid <expid> --gpu -1
"""
import sys

from fuxictr_ssr.cli import run_expid_main

if __name__ == "__main__":
    sys.exit(run_expid_main())
