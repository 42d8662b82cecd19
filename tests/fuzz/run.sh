#!/bin/sh
# run.sh SECONDS NAME... - runs each libFuzzer target build-fuzz/fuzz/fuzz_NAME
# for SECONDS from a scratch copy of tests/fuzz/corpus/NAME/ (libFuzzer
# writes new inputs into it: build-fuzz/corpus/NAME/), crash inputs to
# build-fuzz/artifacts/NAME/, the log to build-fuzz/logs/NAME.log. Prints
# executions and final coverage per target; exits 1 if any target failed.
# Called by `make fuzz` and `make fuzz-short`.
secs=$1
shift
failed=""
for name in "$@"; do
	bin=build-fuzz/fuzz/fuzz_$name
	corpus=build-fuzz/corpus/$name
	art=build-fuzz/artifacts/$name
	log=build-fuzz/logs/$name.log
	mkdir -p "$corpus" "$art" build-fuzz/logs
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -n tests/fuzz/corpus/$name/* "$corpus"/ 2>/dev/null
	fi
	dict=""
	[ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
	echo "== fuzz $name (${secs}s)"
	rc=0
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		"$bin" -max_total_time="$secs" -artifact_prefix="$art/" -print_final_stats=1 \
		$dict "$corpus" > "$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\).*ft: \([0-9]*\).*corp: \([0-9/a-zA-Z]*\).*/cov: \1 ft: \2 corp: \3/p')
	echo "   executions: ${execs:-?}  ${cov:-(no final coverage line)}"
	if [ $rc -ne 0 ]; then
		grep -E 'ERROR: |SUMMARY: |runtime error|Test unit written' "$log" | head -n 8
		echo "   fuzz $name FAILED (exit $rc); log: $log"
		failed="$failed $name"
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: crashes in:$failed"
	exit 1
fi
