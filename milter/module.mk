# milter/: optgate-milter (libmilter).  libmilter is linked statically so
# that its sigwait and socket calls can be wrapped (optgate-milter.c,
# mg_io.c).
MILTER_SRCS := milter/optgate-milter.c milter/mg_hdr.c milter/mg_io.c
MILTER_OBJS := $(MILTER_SRCS:%.c=$(BUILD)/%.o)
MILTER_WRAP := -Wl,--wrap=accept -Wl,--wrap=read -Wl,--wrap=poll \
    -Wl,--wrap=close -Wl,--wrap=unlink
MILTER_LIBS := -Wl,--wrap=sigwait $(MILTER_WRAP) -l:libmilter.a
PROGS += $(BINDIR)/optgate-milter

$(BINDIR)/optgate-milter: $(MILTER_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $(MILTER_OBJS) $(LIB) $(MILTER_LIBS) $(LIBS)

# Unit test of the header helpers, and the benchmark's floor milter (a
# libmilter milter that only adds one header at end of message).
UNIT_BINS += $(BUILD)/test/milter/mg_hdr_test $(BUILD)/test/milter/floor-milter

$(BUILD)/test/milter/mg_hdr_test: $(BUILD)/milter/mg_hdr_test.o \
    $(BUILD)/milter/mg_hdr.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

UNIT_BINS += $(BUILD)/test/milter/mg_io_test
$(BUILD)/test/milter/mg_io_test: $(BUILD)/milter/mg_io_test.o \
    $(BUILD)/milter/mg_io.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $^ $(MILTER_WRAP) $(LIBS) -lcmocka

$(BUILD)/test/milter/floor-milter: $(BUILD)/milter/floor-milter.o
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $^ -lmilter -lpthread

UNIT_BINS += $(BUILD)/test/milter/mg-tokdecode
$(BUILD)/test/milter/mg-tokdecode: $(BUILD)/milter/mg_tokdecode.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $^ $(LIBS)

# libFuzzer target for the header text the milter takes from the MTA.
FUZZ_OBJS_milter_hdr_fuzz := milter/mg_hdr.c
FUZZ_CFLAGS_milter_hdr_fuzz := -Imilter
