/* Prints the paths this CPU can run, one per line (make check loops on it). */
#include <stdio.h>

#include "impl.h"

int main(void)
{
    size_t n;
    const struct vl_impl *const *list = vl_impl_list(&n);
    for (size_t i = 0; i < n; i++)
        if (list[i]->supported())
            puts(list[i]->name);
    return 0;
}
