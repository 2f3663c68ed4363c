"""Story grouping through the shipped ingest run, on a labelled set of articles in a directory
(see newsdelta/evaluation/grouping.py for the formats and what is measured).

    python scripts/grouping_eval.py DIR [--json] [--findings] [--window-days 7] [--no-semantic]
"""

from newsdelta.evaluation.grouping import main

if __name__ == "__main__":
    main()
