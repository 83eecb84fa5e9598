# Sources of the assay command-line tool: main.c and one cmd_<name>.c per command.
set(ASSAY_CLI_SOURCES
  cli/main.c
  cli/common.c
  cli/cmd_profile.c
  cli/cmd_fit.c
  cli/cmd_pretrain.c
  cli/cmd_embed.c
  cli/fit_images.c
  cli/cmd_predict.c
  cli/cmd_eval.c
  cli/cmd_runs.c
  cli/cmd_report.c
  cli/cmd_serve.c
)
