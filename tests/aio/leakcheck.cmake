# leakcheck: a plain program (not Criterion, which ignores LeakSanitizer in
# its test processes) run on every backend; under ASan a leak fails it.
# Not labelled "threads": under TSan, rings created one after another by
# different threads reuse the addresses of the SQ/CQ mappings, which liburing
# maps and unmaps with raw syscalls TSan never sees, so it reports the SQE
# writes of two unrelated rings as a data race.
caio_test(leakcheck LINK caio::aio LABELS aio SOURCES ${CMAKE_CURRENT_LIST_DIR}/leakcheck.c)
