#include "luster.h"
int main(void){return 0;}
