from nas_cli.cli import run

run()
