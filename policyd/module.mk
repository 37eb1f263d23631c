# policyd/: optgate-policyd, the Postfix policy service.  libspf2 is only
# used by the SPF helper processes (the same binary, re-executed).
POLICYD_SRCS := policyd/optgate-policyd.c policyd/pd_proto.c policyd/pd_spf.c
POLICYD_OBJS := $(POLICYD_SRCS:%.c=$(BUILD)/%.o)
POLICYD_LIBS := -lspf2 -lresolv
PROGS += $(BINDIR)/optgate-policyd

$(BINDIR)/optgate-policyd: $(POLICYD_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $(POLICYD_OBJS) $(LIB) $(POLICYD_LIBS) $(LIBS)

# Unit test of the request parser; the benchmark's DUNNO floor server and
# load generator.
UNIT_BINS += $(BUILD)/test/policyd/pd_proto_test
$(BUILD)/test/policyd/pd_proto_test: $(BUILD)/policyd/pd_proto_test.o \
    $(BUILD)/policyd/pd_proto.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

# libFuzzer target for the request parser (see the Makefile's fuzz rules).
FUZZ_EXTRA_LIBS_policy_fuzz := build/fuzz/policyd/pd_proto.o
FUZZ_OBJS_policy_fuzz := build/fuzz/policyd/pd_proto.o
FUZZ_CFLAGS_policy_fuzz := -Ipolicyd

# Benchmark helpers (tests/bench/policyd.sh): the DUNNO floor server and
# the load generator.  Built with everything else so they never rot.
PROGS_TEST += $(BUILD)/bench/pd_floor $(BUILD)/bench/pd_load
$(BUILD)/bench/pd_floor: $(BUILD)/tests/bench/pd_floor.o
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $^
$(BUILD)/bench/pd_load: $(BUILD)/tests/bench/pd_load.o
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $^
