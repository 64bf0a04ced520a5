# The two commands a newcomer needs; see README.md.
.PHONY: test demo bootstrap services-start services-stop bench lint

test:            ## set up everything, start the servers, run ruff, mypy and the whole suite, stop the servers
	scripts/test

demo:            ## QuestDB + MongoDB + a real Home Assistant + the companion; Ctrl-C stops everything
	scripts/bootstrap
	.venv/bin/python scripts/demo.py

bootstrap:
	scripts/bootstrap

services-start:
	scripts/services start

services-stop:
	scripts/services stop

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

bench:           ## benchmarks, each figure beside its baseline (servers must be up)
	scripts/bootstrap
	scripts/services start
	.venv/bin/python -m bench
