# Sources of the data module.
set(ASSAY_DATA_SOURCES
  src/data/coltype.c
  src/data/parse.c
  src/data/build.c
  src/data/table.c
  src/data/csv.c
  src/data/jsonl.c
  src/data/split.c
  src/data/image.c
  src/data/fasttext.c
)
