"""Run the companion: `python -m companion`."""

from __future__ import annotations

import logging
import sys

import uvicorn

from .app import create_app
from .config import CompanionConfig, ConfigError


def main() -> None:
    """Start uvicorn with the settings from the environment."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = CompanionConfig.from_env()
    except ConfigError as err:
        sys.exit(f"energy-tracker companion: {err}")
    uvicorn.run(
        create_app(config), host=config.host, port=config.port, log_level="info"
    )


if __name__ == "__main__":
    main()
