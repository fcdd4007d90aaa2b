# The course's target names, as thin wrappers over the deno tasks (README.md, "Docker").
#   make docker-compose-up N=3    starts a server and 3 agencies (default 5)
N ?= 5
MODE ?= lottery

.PHONY: docker-image docker-compose-up docker-compose-down docker-compose-logs validate-echo test

docker-image:
	deno task docker-build

docker-compose-up:
	deno task up $(N) --mode $(MODE)

docker-compose-down:
	deno task down

docker-compose-logs:
	deno task logs

validate-echo:
	deno task validate-echo

test:
	deno task test
