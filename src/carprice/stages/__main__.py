"""``python -m carprice.stages [args]``: run the stage named by $CARPRICE_STAGE.

The stage images' entry point: one Dockerfile target serves every stage, and the
image bakes its stage name into the environment.
"""

import os
import runpy
import sys

from carprice import pipeline

stage = os.environ.get("CARPRICE_STAGE", "")
if stage not in pipeline.IMAGE_EXTRAS:
    sys.exit(f"error: CARPRICE_STAGE must be one of {', '.join(pipeline.IMAGE_EXTRAS)}, "
             f"got {stage!r}")
runpy.run_module(f"carprice.stages.{stage}", run_name="__main__", alter_sys=True)
