# Install rules: everything a package holds. scripts/package.sh configures the
# build with -DCMAKE_INSTALL_PREFIX=/usr, stages it with
# `DESTDIR=STAGE cmake --install BUILD --strip` and packs STAGE into a .deb and
# an .rpm. Included from the top-level CMakeLists.txt (GNUInstallDirs is loaded).
find_program(GZIP_PROGRAM gzip REQUIRED)

# Binaries, and what they read at run time: the `kestra` script libraries
# (found from the binary's directory, agent/config/paths.cc).
install(TARGETS runnerd runnerctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY scripts/lib/ DESTINATION ${RUNNERD_SCRIPT_LIB_INSTALL_DIR}
  PATTERN README.md EXCLUDE)

# The configuration reference, every option commented out: the packages' conffile.
install(FILES etc/runnerd.yaml DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/runnerd)

# systemd: the unit, the user (sysusers.d) and the directories (tmpfiles.d).
# Under /usr, where this host's systemd says (pkg-config systemd); elsewhere,
# under the prefix. RUNNERD_SYSTEMD_UNIT_DIR overrides the unit's directory.
set(RUNNERD_SYSTEMD_UNIT_DIR "" CACHE PATH "systemd unit directory (empty: found)")
set(runnerd_unit_dir "${RUNNERD_SYSTEMD_UNIT_DIR}")
set(runnerd_tmpfiles_dir "")
set(runnerd_sysusers_dir "")
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  if(NOT runnerd_unit_dir)
    pkg_get_variable(runnerd_unit_dir systemd systemdsystemunitdir)
  endif()
  pkg_get_variable(runnerd_tmpfiles_dir systemd tmpfilesdir)
  pkg_get_variable(runnerd_sysusers_dir systemd sysusersdir)
endif()
if(NOT runnerd_unit_dir)
  set(runnerd_unit_dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()
if(NOT runnerd_tmpfiles_dir)
  set(runnerd_tmpfiles_dir "${CMAKE_INSTALL_PREFIX}/lib/tmpfiles.d")
endif()
if(NOT runnerd_sysusers_dir)
  set(runnerd_sysusers_dir "${CMAKE_INSTALL_PREFIX}/lib/sysusers.d")
endif()
# ExecStart names the installed binary and configuration file.
configure_file(packaging/systemd/runnerd.service.in packaging/runnerd.service @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/packaging/runnerd.service DESTINATION ${runnerd_unit_dir})
install(FILES packaging/systemd/runnerd.tmpfiles DESTINATION ${runnerd_tmpfiles_dir}
  RENAME runnerd.conf)
install(FILES packaging/systemd/runnerd.sysusers DESTINATION ${runnerd_sysusers_dir}
  RENAME runnerd.conf)

# Bash completion of runnerctl, loaded on demand by bash-completion.
install(FILES packaging/completion/runnerctl
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

# Manual pages and the Debian changelog, gzipped (-n: no name or time stamp,
# so the same sources give the same bytes).
set(runnerd_gzipped)
foreach(pair "man/runnerd.8:runnerd.8.gz" "man/runnerctl.1:runnerctl.1.gz"
             "deb/changelog:changelog.Debian.gz")
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 src)
  list(GET pair 1 out)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/packaging/${out}
    COMMAND ${GZIP_PROGRAM} -9n -c ${CMAKE_SOURCE_DIR}/packaging/${src}
            > ${CMAKE_BINARY_DIR}/packaging/${out}
    DEPENDS ${CMAKE_SOURCE_DIR}/packaging/${src}
    COMMENT "gzip packaging/${src}")
  list(APPEND runnerd_gzipped ${CMAKE_BINARY_DIR}/packaging/${out})
endforeach()
add_custom_target(runnerd_packaging_docs ALL DEPENDS ${runnerd_gzipped})
install(FILES ${CMAKE_BINARY_DIR}/packaging/runnerd.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${CMAKE_BINARY_DIR}/packaging/runnerctl.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES packaging/deb/copyright ${CMAKE_BINARY_DIR}/packaging/changelog.Debian.gz
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
