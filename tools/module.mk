# tools/: the optgate CLI.
OPTGATE_SRCS := $(filter-out %_test.c,$(wildcard tools/optgate*.c))
OPTGATE_OBJS := $(OPTGATE_SRCS:%.c=$(BUILD)/%.o)
PROGS += $(BINDIR)/optgate

$(BINDIR)/optgate: $(OPTGATE_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $(OPTGATE_OBJS) $(LIB) $(LIBS)

# The import CSV reader's fuzz target (tests/fuzz/csv_fuzz.c) compiles the
# reader from source.
FUZZ_OBJS_csv_fuzz := tools/optgate_csv.c
FUZZ_CFLAGS_csv_fuzz := -Itools
