"""Pipeline stages. Each module ``carprice.stages.<name>`` is runnable with
``python -m`` and defines ``run(ctx) -> dict``; runner.main does the rest."""
