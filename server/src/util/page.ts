/** A page of a list: which one, its size, and the rows it covers (limit and offset for the query). */
export interface Page {
  page: number;
  size: number;
  limit: number;
  offset: number;
}
