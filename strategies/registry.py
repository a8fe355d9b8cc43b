"""Discovery and lookup of strategies by name.

Every module of the ``strategies`` package (except the infrastructure modules) is imported and
every concrete :class:`~strategies.base.Strategy` subclass *defined* in it is registered under
its ``name``. A new strategy is therefore a new module in the package, nothing else. Tests may
register extra classes with :func:`register` (and remove them with :func:`unregister`).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Mapping
from pathlib import Path

from bot.config import Settings, StrategyConfig
from strategies.base import Strategy, StrategyConfigError

_INFRASTRUCTURE = frozenset({"base", "registry", "features"})
_registry: dict[str, type[Strategy]] = {}
_discovered = False


def register(cls: type[Strategy]) -> type[Strategy]:
    """Register a strategy class under ``cls.name`` (duplicate names are an error)."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__name__} has no 'name'")
    existing = _registry.get(name)
    if existing is not None and existing is not cls:
        raise TypeError(f"two strategies are named {name!r}: {existing.__module__}.{existing.__name__} "
                        f"and {cls.__module__}.{cls.__name__}")
    _registry[name] = cls
    return cls


def unregister(name: str) -> None:
    _registry.pop(name, None)


def discover() -> None:
    """Import the package's strategy modules once and register what they define."""
    global _discovered
    if _discovered:
        return
    # Enumerate this directory, not ``strategies.__path__``: if the package is ever imported as
    # a namespace package (an editable install made before __init__.py existed, or a
    # ``tests/strategies`` folder on sys.path) its path can include foreign folders.
    for info in pkgutil.iter_modules([str(Path(__file__).resolve().parent)]):
        if info.name in _INFRASTRUCTURE or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"strategies.{info.name}")
        for obj in vars(module).values():
            if (inspect.isclass(obj) and issubclass(obj, Strategy) and not inspect.isabstract(obj)
                    and obj.__module__ == module.__name__):
                register(obj)
    _discovered = True


def names() -> list[str]:
    """Registered strategy names, sorted."""
    discover()
    return sorted(_registry)


def get(name: str) -> type[Strategy]:
    """The strategy class called ``name``; an unknown name lists the known ones."""
    discover()
    try:
        return _registry[name]
    except KeyError:
        raise StrategyConfigError(f"unknown strategy {name!r} (known: {', '.join(sorted(_registry))})") from None


def build(name: str, config: StrategyConfig | None = None) -> Strategy:
    """An instance of ``name`` configured by ``config`` (params validated by its Params)."""
    return get(name)(config=config)


def validate_configs(configs: Mapping[str, StrategyConfig]) -> None:
    """Check every configured strategy exists and its ``params`` validate (enabled or not).

    Raises :class:`StrategyConfigError` naming the strategy and the key; call it at start-up
    (``derivbot config check``, the engine) so a typo never reaches a trading loop."""
    errors = []
    for name, cfg in configs.items():
        try:
            build(name, cfg)
        except StrategyConfigError as exc:
            errors.append(str(exc))
    if errors:
        raise StrategyConfigError("\n".join(errors))


def build_enabled(settings: Settings) -> dict[str, Strategy]:
    """Instances of the strategies enabled in ``settings`` (validated first)."""
    validate_configs(settings.strategies)
    return {name: build(name, cfg) for name, cfg in settings.enabled_strategies().items()}
