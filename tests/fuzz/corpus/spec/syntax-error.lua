local x = input { 2 
