# tools/: the optgate CLI.
OPTGATE_SRCS := $(filter-out %_test.c,$(wildcard tools/optgate*.c))
OPTGATE_OBJS := $(OPTGATE_SRCS:%.c=$(BUILD)/%.o)
PROGS += $(BINDIR)/optgate

$(BINDIR)/optgate: $(OPTGATE_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) -o $@ $(OPTGATE_OBJS) $(LIB) $(LIBS)
