.PHONY: run test stop status
run:   ## the whole stack plus the demo dataset (Ctrl-C stops everything)
	bash deploy/local/run.sh $(ARGS)
test:  ## the whole test suite (starts its own servers)
	bash deploy/local/test.sh $(ARGS)
stop:
	bash deploy/local/stop.sh
status:
	.venv/bin/python -m claystream_devstack status
