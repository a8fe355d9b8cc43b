"""Running the bot unattended: Prometheus metrics, the health check and the files a new user
starts from (``derivbot init``).

One job per module: :mod:`bot.ops.health` decides healthy or not, :mod:`bot.ops.metrics` turns
cycle reports into Prometheus series, :mod:`bot.ops.server` serves both over HTTP on the bot's
event loop, :mod:`bot.ops.scaffold` writes the starter files. Nothing here imports the engine or
the command line: the engine hands each cycle's report to :meth:`BotMetrics.observe_cycle`
through its one hook (``Engine.cycle_observer``), which ``bot.runner`` connects.
"""
