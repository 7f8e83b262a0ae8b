#!/bin/bash
# The include graph's rules, checked on the sources (no server needed):
#   gc/ <- profile/ <- src/, never upward (gc/ includes no profile/, neither includes src/);
#   inside src/, one way: leaves <- http core <- debug surface <- app <- main, where
#     leaves  numparse numstr strlist promfmt procstat assets lograte (include no other layer)
#     core    http router conns server reqgate (of profile/ and gc/ only buf.h and clock.h),
#             gcprof_mhd (the core's libmicrohttpd through pointers, in libgcprof)
#     debug   debug_* metrics reqstats dashboard
#     app     handlers routes app, and libgcprof's glue over the debug surface:
#             gcprof_lib gcprof_http gcprof_vars gcprof_settings
#     main    main flags, and gcprof (the command, an entry like main)
#   and a file includes only its own layer or lower ones. A src/ file missing from the
#   map fails: a new file must be given its layer here.
source "$(dirname "$0")/../lib.sh"
cd "${LAYERS_ROOT:-$ROOT}" || exit 1   # LAYERS_ROOT: check another tree

layer_of() { # src/NAME.[ch] -> 0..4, or nothing
    local n=${1##*/}; n=${n%.*}
    case $n in
    numparse|numstr|strlist|promfmt|procstat|assets|lograte) echo 0 ;;
    http|router|conns|server|reqgate|gcprof_mhd) echo 1 ;;
    debug_*|metrics|reqstats|dashboard) echo 2 ;;
    handlers|routes|app|gcprof_lib|gcprof_http|gcprof_vars|gcprof_settings) echo 3 ;;
    main|flags|gcprof) echo 4 ;;
    esac
}
names=(leaf core debug app main)

bad=0
for f in src/*.[ch]; do
    l=$(layer_of "$f")
    if [ -z "$l" ]; then fail "layer_of_${f//[^a-z_]/_}" "$f has no layer in tests/integration/layers.sh"; bad=1; continue; fi
    for inc in $(sed -n 's/^#include "\(src\/[a-z_]*\.h\)".*/\1/p' "$f"); do
        [ "$inc" = "${f%.*}.h" ] && continue   # its own header
        il=$(layer_of "$inc")
        if [ -z "$il" ] || [ "$il" -gt "$l" ]; then
            fail "src_includes_run_down" "$f (${names[$l]}) includes $inc (${names[${il:-4}]})"; bad=1
        elif [ "$il" = "$l" ] && [ "$l" = 0 ] && [ "$inc" != "src/numstr.h" ]; then
            fail "leaves_include_no_src_module" "$f includes $inc"; bad=1
        fi
    done
    if [ "$l" = 1 ]; then
        for inc in $(sed -n 's/^#include "\(\(gc\|profile\)\/[a-z_]*\.h\)".*/\1/p' "$f"); do
            case $inc in gc/clock.h|profile/buf.h) ;; *) fail http_core_uses_only_leaf_utilities "$f includes $inc"; bad=1 ;; esac
        done
    fi
done
[ "$bad" = 0 ] && pass src_includes_run_one_way

up=$(grep -l '#include "src/' gc/*.[ch] profile/*.[ch] 2>/dev/null)
expect_eq gc_and_profile_include_no_src "${up:-none}" none
up=$(grep -l '#include "profile/' gc/*.[ch] 2>/dev/null)
expect_eq gc_includes_no_profile "${up:-none}" none
