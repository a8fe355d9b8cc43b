"""Running the bot unattended (issue 15): alerts, Prometheus metrics, the health check and the
files a new user starts from (``derivbot init``).

One job per module:

* :mod:`bot.ops.alert_rules` — which journal rows make which alert;
* :mod:`bot.ops.alerts` — queue, filter, merge, retries and the sender thread (apprise);
* :mod:`bot.ops.crash` — the crash alert of an exit nobody asked for;
* :mod:`bot.ops.health` — healthy or not; :mod:`bot.ops.metrics` — cycle reports as Prometheus
  series; :mod:`bot.ops.server` — both over HTTP on the bot's event loop;
* :mod:`bot.ops.scaffold` — the starter files.

Nothing here imports the engine or the command line: the engine hands each cycle's report to
:meth:`BotMetrics.observe_cycle` through its one hook (``Engine.cycle_observer``), and alerts
listen to the journal; ``bot.runner`` connects both.
"""
