// Build-only: the public header compiles from C++.
#include <vkattn/vkattn.h>

int main()
{
    vkattn_problem p = {};
    p.batch = 1;
    return vkattn_result_string(VKATTN_SUCCESS) != nullptr && p.batch == 1 ? 0 : 1;
}
