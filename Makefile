# The two commands of README.md. Each does all of its own setup (scripts/bootstrap.sh).
.PHONY: site test bootstrap bench lint lab-down clean

site:
	bash scripts/site.sh

test: bootstrap
	.venv/bin/pytest

bootstrap:
	bash scripts/bootstrap.sh

bench: bootstrap
	.venv/bin/python bench/dataplane.py
	.venv/bin/python bench/gateway.py
	.venv/bin/python bench/flowswitch.py

lint: bootstrap
	.venv/bin/ansible-lint --profile production

lab-down:
	.venv/bin/hitless lab down

clean: lab-down
	rm -rf .venv .pytest_cache .hypothesis
