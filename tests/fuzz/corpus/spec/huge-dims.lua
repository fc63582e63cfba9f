local x = input { 2147483647, 2147483647 }
minimize(sum(linear(x, 1000000)))
