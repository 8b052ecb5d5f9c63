/* weft demo: placeholder until the channel layer lands. */
#include <stdio.h>
#include "tools/weft_tool.h"
int weft_cmd_demo(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("weft demo\n");
    return 0;
}
