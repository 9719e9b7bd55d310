"""spark-submit entry point: the same pipeline as `skuplan run`.

    spark-submit jobs/plan.py --conf conf --run-date 2026-01-01
"""

import sys

from skuplan.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
