# Sources of the assay command-line tool: main.c and one cmd_<name>.c per command.
set(ASSAY_CLI_SOURCES
  cli/main.c
)
