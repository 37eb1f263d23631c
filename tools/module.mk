# tools/: the optgate CLI.
OPTGATE_SRCS := $(filter-out %_test.c,$(wildcard tools/optgate*.c))
OPTGATE_OBJS := $(OPTGATE_SRCS:%.c=$(BUILD)/%.o)
PROGS += $(BINDIR)/optgate

$(BINDIR)/optgate: $(OPTGATE_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $(OPTGATE_OBJS) $(LIB) $(LIBS) $(GMIME_LIBS)

# The report parser (lib/og_report.c) uses GMime; only programs that call
# it link GMime.
GMIME_CFLAGS := $(shell pkg-config --cflags gmime-3.0 2>/dev/null)
GMIME_LIBS := $(shell pkg-config --libs gmime-3.0 2>/dev/null)
$(BUILD)/lib/og_report.o: OG_CFLAGS += $(GMIME_CFLAGS)
$(BUILD)/test/lib/og_report_test: LIBS += $(GMIME_LIBS)
FUZZ_LIBS_report_fuzz := $(GMIME_LIBS)

# The import CSV reader's fuzz target (tests/fuzz/csv_fuzz.c) compiles the
# reader from source.
FUZZ_OBJS_csv_fuzz := tools/optgate_csv.c
FUZZ_CFLAGS_csv_fuzz := -Itools

# og_csv_invisible asks GLib's Unicode tables (GLib comes with GMime).
GLIB_CFLAGS := $(shell pkg-config --cflags glib-2.0 2>/dev/null)
GLIB_LIBS := $(shell pkg-config --libs glib-2.0 2>/dev/null)
$(BUILD)/tools/optgate_csv.o $(BUILD)/tools/optgate_csv_test.o: OG_CFLAGS += $(GLIB_CFLAGS)
$(BUILD)/test/tools/optgate_csv_test: LIBS += $(GLIB_LIBS)
FUZZ_CFLAGS_csv_fuzz += $(GLIB_CFLAGS)
FUZZ_LIBS_csv_fuzz := $(GLIB_LIBS)
