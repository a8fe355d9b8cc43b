"""Running the bot unattended: alerts (issue 15).

* :mod:`bot.ops.alert_rules` — which journal rows make which alert;
* :mod:`bot.ops.alerts` — queue, filter, merge, retries and the sender thread (apprise);
* :mod:`bot.ops.crash` — the crash alert of an exit nobody asked for.
"""
