# Writes the portwatch(1) man page: help2man turns `portwatch --help` into the page, and a
# COMMANDS section holds the --help of every command and subcommand, found by walking the
# "Subcommands:" lists of the help itself. Nothing is written by hand but packaging/portwatch.h2m
# (files, signals, see also), so the page cannot drift from the program.
#
# cmake -DPORTWATCH=BINARY -DHELP2MAN=help2man -DGZIP=gzip -DOUTPUT=portwatch.1.gz
#       -P man_page.cmake

foreach(input PORTWATCH HELP2MAN GZIP OUTPUT)
  if(NOT ${input})
    message(FATAL_ERROR "man_page.cmake: -D${input}=... is required")
  endif()
endforeach()

# Defaults in the help text (the database's path) as the service has them, whoever builds.
set(ENV{STATE_DIRECTORY} /var/lib/portwatch)

# The commands listed under a help text's "Subcommands:" heading (the block up to a blank line).
function(portwatch_subcommands help out)
  set(names "")
  string(TOLOWER "${help}" lower)
  string(FIND "${lower}" "\nsubcommands:\n" at)
  if(NOT at EQUAL -1)
    string(SUBSTRING "${help}" ${at} -1 block)
    string(REGEX REPLACE "^\n[^\n]*\n" "" block "${block}")
    string(FIND "${block}" "\n\n" end)
    if(NOT end EQUAL -1)
      string(SUBSTRING "${block}" 0 ${end} block)
    endif()
    string(REGEX MATCHALL "(^|\n)  [a-z][a-z0-9-]*" found "${block}")
    foreach(name IN LISTS found)
      string(STRIP "${name}" name)
      list(APPEND names "${name}")
    endforeach()
  endif()
  set(${out} "${names}" PARENT_SCOPE)
endfunction()

# Appends `portwatch WORDS... --help` as a subsection of COMMANDS to the variable `roff`, then
# does the same for each of its subcommands.
function(portwatch_command_help words)
  execute_process(COMMAND "${PORTWATCH}" ${words} --help
                  OUTPUT_VARIABLE help ERROR_VARIABLE error RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "portwatch ${words} --help failed (${status}): ${error}")
  endif()
  string(REPLACE ";" " " title "portwatch ${words}")
  # roff: a backslash is \e; a line may not start with a control character (. or ').
  string(REPLACE "\\" "\\e" text "${help}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(page "${roff}.SS \"${title}\"\n.nf\n${text}\n.fi\n")
  portwatch_subcommands("${help}" subcommands)
  foreach(subcommand IN LISTS subcommands)
    set(roff "${page}")
    portwatch_command_help("${words};${subcommand}")
    set(page "${roff}")
  endforeach()
  set(roff "${page}" PARENT_SCOPE)
endfunction()

execute_process(COMMAND "${PORTWATCH}" --help OUTPUT_VARIABLE top RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "portwatch --help failed (${status})")
endif()
portwatch_subcommands("${top}" commands)
if(NOT commands)
  message(FATAL_ERROR "portwatch --help lists no commands under \"Subcommands:\"")
endif()
set(roff "")
foreach(command IN LISTS commands)
  portwatch_command_help("${command}")
endforeach()

get_filename_component(directory "${OUTPUT}" DIRECTORY)
set(include "${directory}/portwatch.h2m")
file(READ "${CMAKE_CURRENT_LIST_DIR}/portwatch.h2m" written_by_hand)
file(WRITE "${include}" "${written_by_hand}\n[COMMANDS]\n${roff}")
string(REGEX REPLACE "\\.gz$" "" page "${OUTPUT}")
execute_process(
  COMMAND "${HELP2MAN}" --no-info --section=1
          "--name=every socket on this host and the process that owns it"
          "--include=${include}" "--output=${page}" "${PORTWATCH}"
  RESULT_VARIABLE status ERROR_VARIABLE error)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "help2man failed (${status}): ${error}")
endif()
execute_process(COMMAND "${GZIP}" -9nf "${page}" RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "gzip ${page} failed (${status})")
endif()
