/* Build-only: the public header compiles as strict C99 and links. */
#include <vkattn/vkattn.h>

int main(void)
{
    vkattn_problem p = {0};
    p.batch = 1;
    return vkattn_result_string(VKATTN_SUCCESS)[0] != '\0' && p.batch == 1 ? 0 : 1;
}
