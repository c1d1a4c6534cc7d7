"""Names shared by the files that describe an export's inputs (preprocess.json for images and tables)."""

FORMAT = "nas-preprocess-1"
FILENAME = "preprocess.json"
REEXPORT = "re-export it with: nas export RUN_DIR"
