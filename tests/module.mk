# tests/: helper programs built with everything else (so they never rot).
PROGS_TEST += $(BUILD)/bench/og_bench

$(BUILD)/bench/og_bench: $(BUILD)/tests/bench/og_bench.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $< $(LIB) $(LIBS)

# An LD_PRELOAD shim that fails the store's writes and syncs on demand
# (tests/fault/og_faultfs.c): for the disk-error tests only.  Plain, not
# instrumented: it only forwards to libc.
PROGS_TEST += $(BUILD)/tests/og_faultfs.so

$(BUILD)/tests/og_faultfs.so: tests/fault/og_faultfs.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra $(WERROR) -fPIC \
	    -shared -o $@ $< -ldl
