# unsubd/: optgate-unsubd, the one-click unsubscribe and preference-center
# HTTP service (issue 8).  Its own folder because tools/module.mk links
# every tools/optgate*.c into the CLI; see docs/design.md.
UNSUBD_SRCS := $(filter-out %_test.c,$(wildcard unsubd/*.c))
UNSUBD_OBJS := $(UNSUBD_SRCS:%.c=$(BUILD)/%.o)
UNSUBD_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null) -lm
PROGS += $(BINDIR)/optgate-unsubd

$(BINDIR)/optgate-unsubd: $(UNSUBD_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $(UNSUBD_OBJS) $(LIB) $(UNSUBD_LIBS) $(LIBS)

# Unit test of the parsers (cmocka), beside the code.
UNIT_BINS += $(BUILD)/test/unsubd/unsubd_parse_test
$(BUILD)/test/unsubd/unsubd_parse_test: $(BUILD)/unsubd/unsubd_parse_test.o \
    $(BUILD)/unsubd/unsubd_parse.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $^ $(LIBS) -lm -lcmocka

# Fuzz target tests/fuzz/http_fuzz.c: the parsers themselves.
FUZZ_OBJS_http_fuzz := unsubd/unsubd_parse.c
FUZZ_CFLAGS_http_fuzz := -Iunsubd
FUZZ_LIBS_http_fuzz := -lm

# Group commit and rate limit against a real store.
UNIT_BINS += $(BUILD)/test/unsubd/unsubd_commit_test
$(BUILD)/test/unsubd/unsubd_commit_test: $(BUILD)/unsubd/unsubd_commit_test.o \
    $(BUILD)/unsubd/unsubd_commit.o $(BUILD)/unsubd/unsubd_limit.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $^ $(LIBS) -lcmocka
