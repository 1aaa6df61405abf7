"""``python -m app.cli`` (and ``accelerate launch -m app.cli worker ...``): the `toolforge` CLI."""

from app.cli.main import main

main()
