"""``python -m carprice.pipeline <stage> [stage flags]``: the one command that runs a stage.

It is the stage images' entry point and every dvc.yaml command. In the stack's dvc-runner
($CARPRICE_DVC_DOCKER=1) the stage runs as a sibling container of its image, with the
same container spec as the Airflow DAG (carprice.pipeline.container); anywhere else it runs
in this process (carprice.pipeline.runner.run_stage).
"""

import sys

from carprice.pipeline.runner import run_stage_command

sys.exit(run_stage_command(sys.argv[1:]))
