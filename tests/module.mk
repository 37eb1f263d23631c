# tests/: helper programs built with everything else (so they never rot).
PROGS_TEST += $(BUILD)/bench/og_bench

$(BUILD)/bench/og_bench: $(BUILD)/tests/bench/og_bench.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $< $(LIB) $(LIBS)
