/** What a client asks for with every request (its `Language` and `Product` headers); services localize and filter by it. */
export type Language = 'en_US' | 'zh_CN';
export type Product = 'DROS' | 'VETDROS';
