"""``python -m carprice.pipeline <stage> [stage flags]``: the one command that runs a stage.

It is the stage images' entry point and every dvc.yaml command. In the stack's dvc-runner
($CARPRICE_DVC_DOCKER=1) the stage runs as a sibling container of its image, with the
same container spec as the Airflow DAG (carprice.pipeline.container); anywhere else it runs
in this process (carprice.pipeline.runner.run_stage).
"""

import gc
import sys

# A stage's start-up is mostly imports (mlflow, pandas, scikit-learn: about 1,500
# modules), which allocate much and free little: every collection pass would rescan them.
# The runner resumes collection once they are loaded (runner.imports_loaded).
gc.disable()

from carprice.pipeline.runner import run_stage_command  # noqa: E402

sys.exit(run_stage_command(sys.argv[1:]))
