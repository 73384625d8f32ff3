# SPDX-License-Identifier: GPL-2.0
# Included by a Kbuild file whose objects include compat.h: generates
# $(obj)/conftest.h from the probes in driver/conftest/ before any of them is
# compiled, with the flags those objects get (minus the dependency output).
# It is rerun whenever the probes, the script or the flags change.
npu_mem_conftest_dir := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

quiet_cmd_conftest = CONFTEST $@
      cmd_conftest = $(CONFIG_SHELL) $(npu_mem_conftest_dir)/conftest.sh $@ \
		     $(npu_mem_conftest_dir)/conftest $(CC) \
		     $(filter-out -Wp$(comma)-MMD$(comma)%,$(c_flags)) -DMODULE

$(obj)/conftest.h: $(npu_mem_conftest_dir)/conftest.sh \
		   $(wildcard $(npu_mem_conftest_dir)/conftest/*.c) FORCE
	$(call if_changed,conftest)

targets += conftest.h
clean-files += conftest.h
